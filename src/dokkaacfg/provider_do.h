/* provider_do.h - Dokkaa on DigitalOcean: `dokkaacfg --provider=digitalocean up
 * --scale=N --ssh_key=NAME`, the seed's own line. The droplets are made through
 * the API (digitalocean.h), tagged dokkaa-<cluster>, with the account's key of
 * that name; once active they are installed and joined over SSH by the ssh
 * provider's steps (provider_ssh.h), so both providers make the same cluster. */
#ifndef PROVIDER_DO_H
#define PROVIDER_DO_H

#define PROVIDER_DO_MAX_DROPLETS 64
#define PROVIDER_DO_REGION "nyc3"
#define PROVIDER_DO_SIZE "s-2vcpu-2gb"
#define PROVIDER_DO_IMAGE "debian-12-x64"
#define PROVIDER_DO_API_URL "https://api.digitalocean.com"

typedef struct provider_do_opts {
    const char *name;     /* the cluster */
    int scale;            /* droplets wanted; 0: as many as there are (1 for a new one) */
    const char *ssh_key;  /* the account's key, by name; needed to make droplets */
    const char *region, *size, *image; /* NULL: the defaults above */
    const char *api_url;  /* NULL: $DIGITALOCEAN_API_URL, else PROVIDER_DO_API_URL */
    const char *identity; /* the private key for SSH, NULL: ssh's own choice */
    const char *package;  /* NULL: as the ssh provider finds it */
    const char *const *trust;
    int ntrust;
} provider_do_opts;

/* Make, grow or shrink the cluster's droplets, then install and join them.
 * Returns the exit code. */
int provider_do_up(const provider_do_opts *o);

/* Delete every droplet of the cluster, and forget it here. Exit code. */
int provider_do_down(const char *name, const char *api_url);

#endif
