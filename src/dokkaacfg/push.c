/* dokkaacfg push IMAGE... - images from this machine's engine into the cluster's
 * registry, so that a manifest naming them runs on the servers unchanged.
 *
 * The registry runs on the cluster's first host (dokkaa-registry.service,
 * Debian's docker-registry) behind TLS with the cluster's CA, and lets in only
 * clients with a certificate of that CA: the hosts' engines and this CLI. Each
 * image goes `docker save` here, through SSH to `docker load` on the first host,
 * and from there `docker push` to the registry at <first host>:5000, where every
 * host's conductor pulls it from (DOKKAA_REGISTRY). The local engine is
 * $DOCKER_HOST's, else the default socket: the docker CLI reads it itself. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dokkaacfg.h"
#include "provider_ssh.h"

extern char **environ;

static const char cfg_push_usage[] =
    "usage: dokkaacfg push [--name NAME] IMAGE...\n"
    "  copy images from the local Docker Engine ($DOCKER_HOST, else the default socket)\n"
    "  into the registry of the cluster on real machines (default: the one the CLI's\n"
    "  config names); hosts then run manifests that name them, as they are named here\n";

/* An image name as Docker takes it, and safe inside single quotes. */
static bool cfg_push_name_ok(const char *image)
{
    size_t n = strlen(image);
    return n > 0 && n < 256 && image[0] != '-' &&
           strspn(image, "abcdefghijklmnopqrstuvwxyz0123456789._-/:@") == n;
}

static int cfg_push_one(ssh_cluster *c, const ssh_host *h, const char *image, err_t *err)
{
    const char *argv[] = {"docker", "save", image, NULL};
    char script[1024];
    posix_spawn_file_actions_t fa;
    int fds[2], status = 0, rc;
    pid_t pid;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return err_sys(err, "pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    rc = posix_spawnp(&pid, "docker", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        errno = rc;
        return err_sys(err, "docker (the local engine's CLI)");
    }
    rc = ssh_send_fd(&c->ssh, h->target, fds[0], "docker load -q >/dev/null", err);
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* ssh first: when it fails, docker save dies of the broken pipe */
    if (rc < 0 && err->code == ERR_UNAVAIL)
        return err_prefix(err, "%s: docker load", h->addr);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return err_set(err, ERR_NOTFOUND, "docker save %s failed here: is the image in the local "
                       "engine? (docker image ls)", image);
    if (rc < 0)
        return err_prefix(err, "%s: docker load", h->addr);
    snprintf(script, sizeof script,
             "set -e\n"
             "docker tag '%s' '%s:5000/%s'\n"
             "docker push -q '%s:5000/%s' >/dev/null\n"
             "docker rmi '%s:5000/%s' >/dev/null\n",
             image, h->addr, image, h->addr, image, h->addr, image);
    if (ssh_script(&c->ssh, h->target, script, NULL, err) < 0)
        return err_prefix(err, "%s: docker push to %s:5000", h->addr, h->addr);
    printf("%s ... pushed to %s:5000\n", image, h->addr);
    fflush(stdout);
    return 0;
}

int cfg_push(const cfg_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *name = NULL;
    ssh_cluster *c = calloc(1, sizeof *c);
    bool found = false;
    err_t err;
    int opt, rc = 1;
    (void)g;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': name = optarg; break;
        case 'h': fputs(cfg_push_usage, stdout); rc = 0; goto out;
        default: fputs(cfg_push_usage, stderr); rc = 2; goto out;
        }
    }
    if (optind == argc) {
        fputs(cfg_push_usage, stderr);
        rc = 2;
        goto out;
    }
    if (!c || (name ? provider_ssh_load(c, name, &err) : provider_ssh_current(c, &found, &err)) < 0) {
        fprintf(stderr, "dokkaacfg push: %s\n", c ? err.msg : "out of memory");
        goto out;
    }
    if (!c->nhosts) {
        fprintf(stderr, "dokkaacfg push: no cluster on real machines %s%s (the local provider's "
                "registry is filled by up itself)\n", name ? "named " : "in the CLI's config",
                name ? name : "");
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        if (!cfg_push_name_ok(argv[i])) {
            fprintf(stderr, "dokkaacfg push: \"%s\" is not an image name\n", argv[i]);
            rc = 2;
            goto out;
        }
        if (cfg_push_one(c, &c->hosts[0], argv[i], &err) < 0) {
            fprintf(stderr, "dokkaacfg push: %s: %s\n", argv[i], err.msg);
            goto out;
        }
    }
    rc = 0;
out:
    free(c);
    return rc;
}
