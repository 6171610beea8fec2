/* test_digitalocean.c - the DigitalOcean client's pure parts
 * (src/dokkaacfg/digitalocean.c): pages of SSH keys and droplets, the answer to a
 * create, links.pages.next, and the error object, on JSON shaped as the API's
 * documentation shows it (the examples of github.com/digitalocean/openapi:
 * resources/ssh_keys/responses/sshKeys_all.yml, resources/droplets/responses/
 * examples.yml, shared/responses/), then broken in the ways an answer can be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "digitalocean.h"

#define CHECK(expr)                                                                      \
    do {                                                                                 \
        if ((expr) != 0)                                                                 \
            fail_msg("%s failed: [%d] %s", #expr, (int)err.code, err.msg);               \
    } while (0)

#define HAS(haystack, needle)                                                            \
    do {                                                                                 \
        if (!strstr((haystack), (needle)))                                               \
            fail_msg("\"%s\" lacks \"%s\"", (haystack), (needle));                       \
    } while (0)

/* sshKeys_all.yml's example, as the API sends it. */
static const char keys_doc[] =
    "{\"ssh_keys\":[{\"id\":289794,"
    "\"fingerprint\":\"3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45\","
    "\"public_key\":\"ssh-rsa ANOTHEREXAMPLEaC1yc2EAAAADAQABAAAAQQDDHr/jh2Jy4yALcK4JyWbVkPRaWmhck3IgCoeOO3z1e2dBowLh64QAM+Qb72pxekALga2oi4GvT+TlWNhzPH4V anotherexample\","
    "\"name\":\"Other Public Key\"}],"
    "\"links\":{},\"meta\":{\"total\":1}}";

/* A first page of two with the paging of shared/pages.yml. */
static const char keys_page1[] =
    "{\"ssh_keys\":[{\"id\":512189,\"fingerprint\":\"3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa\","
    "\"public_key\":\"ssh-rsa AEXAMPLE example\",\"name\":\"My SSH Public Key\"}],"
    "\"links\":{\"pages\":{\"last\":\"https://api.digitalocean.com/v2/account/keys?page=2&per_page=1\","
    "\"next\":\"https://api.digitalocean.com/v2/account/keys?page=2&per_page=1\"}},"
    "\"meta\":{\"total\":2}}";

/* The first droplet of droplets_all (examples.yml), with the fields we skip kept
 * so that their presence is tested too. */
#define DROPLET_DOC(id, name, status, v4)                                                \
    "{\"id\":" id ",\"name\":\"" name "\",\"memory\":1024,\"vcpus\":1,\"disk\":25,"      \
    "\"locked\":false,\"status\":\"" status "\",\"kernel\":null,"                        \
    "\"created_at\":\"2020-07-21T18:37:44Z\",\"features\":[\"backups\",\"ipv6\"],"       \
    "\"backup_ids\":[53893572],\"next_backup_window\":{\"start\":\"2020-07-30T00:00:00Z\"," \
    "\"end\":\"2020-07-30T23:00:00Z\"},\"snapshot_ids\":[67512819],"                     \
    "\"image\":{\"id\":63663980,\"name\":\"20.04 (LTS) x64\",\"distribution\":\"Ubuntu\"," \
    "\"slug\":\"ubuntu-20-04-x64\",\"public\":true},\"volume_ids\":[],"                  \
    "\"size\":{\"slug\":\"s-1vcpu-1gb\",\"memory\":1024,\"vcpus\":1,\"disk\":25},"       \
    "\"size_slug\":\"s-1vcpu-1gb\",\"networks\":{\"v4\":" v4 ",\"v6\":[{"                \
    "\"ip_address\":\"2604:a880:0:1010::18a:a001\",\"netmask\":64,"                      \
    "\"gateway\":\"2604:a880:0:1010::1\",\"type\":\"public\"}]},"                         \
    "\"region\":{\"name\":\"New York 3\",\"slug\":\"nyc3\"},\"tags\":[\"web\",\"env:prod\"]," \
    "\"vpc_uuid\":\"760e09ef-dc84-11e8-981e-3cfdfeaae000\"}"

#define V4_BOTH                                                                          \
    "[{\"ip_address\":\"10.128.192.124\",\"netmask\":\"255.255.0.0\",\"gateway\":\"nil\"," \
    "\"type\":\"private\"},{\"ip_address\":\"192.241.165.154\",\"netmask\":\"255.255.255.0\"," \
    "\"gateway\":\"192.241.165.1\",\"type\":\"public\"}]"

static const char droplets_doc[] =
    "{\"droplets\":[" DROPLET_DOC("3164444", "example.com", "active", V4_BOTH) ","
    DROPLET_DOC("3164459", "assets.example.com", "off", "[]") "],"
    "\"links\":{\"pages\":{}},\"meta\":{\"total\":2}}";

static void test_keys_page_as_documented(void **state)
{
    (void)state;
    err_t err = {0};
    do_keys keys = {0};
    do_page page;
    CHECK(do_parse_keys(keys_doc, strlen(keys_doc), &keys, &page, &err));
    assert_int_equal(keys.n, 1);
    assert_int_equal(keys.v[0].id, 289794);
    assert_string_equal(keys.v[0].name, "Other Public Key");
    assert_string_equal(keys.v[0].fingerprint, "3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45");
    assert_true(strncmp(keys.v[0].public_key, "ssh-rsa ANOTHEREXAMPLE", 22) == 0);
    assert_int_equal(page.next, 0);
    assert_int_equal(page.total, 1);
    do_keys_free(&keys);
    assert_null(keys.v);
    assert_int_equal(keys.n, 0);
}

static void test_keys_pages_append_and_a_bad_page_keeps_the_earlier(void **state)
{
    (void)state;
    err_t err = {0};
    do_keys keys = {0};
    do_page page;
    CHECK(do_parse_keys(keys_page1, strlen(keys_page1), &keys, &page, &err));
    assert_int_equal(page.next, 2);
    assert_int_equal(page.total, 2);
    CHECK(do_parse_keys(keys_doc, strlen(keys_doc), &keys, NULL, &err));
    assert_int_equal(keys.n, 2);
    assert_string_equal(keys.v[0].name, "My SSH Public Key");
    assert_string_equal(keys.v[1].name, "Other Public Key");

    /* the second key of this page is bad: none of this page is added */
    const char half[] = "{\"ssh_keys\":[{\"id\":7,\"name\":\"ok\"},{\"id\":\"8\",\"name\":\"id as text\"}]}";
    assert_int_equal(do_parse_keys(half, strlen(half), &keys, NULL, &err), -1);
    assert_int_equal(err.code, ERR_REMOTE);
    HAS(err.msg, "ssh_keys[1]");
    HAS(err.msg, "\"id\" is not a positive integer");
    assert_int_equal(keys.n, 2);
    do_keys_free(&keys);
}

static void test_keys_optional_fields_and_an_empty_account(void **state)
{
    (void)state;
    err_t err = {0};
    do_keys keys = {0};
    do_page page;
    const char bare[] = "{\"ssh_keys\":[{\"id\":1,\"name\":\"k\",\"fingerprint\":null}]}";
    CHECK(do_parse_keys(bare, strlen(bare), &keys, &page, &err));
    assert_int_equal(keys.n, 1);
    assert_null(keys.v[0].fingerprint);
    assert_null(keys.v[0].public_key);
    assert_int_equal(page.total, -1); /* no meta */
    do_keys_free(&keys);

    const char none[] = "{\"ssh_keys\":[],\"links\":{},\"meta\":{\"total\":0}}";
    CHECK(do_parse_keys(none, strlen(none), &keys, &page, &err));
    assert_int_equal(keys.n, 0);
    assert_int_equal(page.total, 0);
}

static void test_keys_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *json, *says;
    } bad[] = {
        {"", "not JSON"},
        {"{\"ssh_keys\":[", "not JSON"},
        {"[]", "not a JSON object"},
        {"{}", "\"ssh_keys\" is missing"},
        {"{\"ssh_keys\":{}}", "\"ssh_keys\" is not an array"},
        {"{\"ssh_keys\":[42]}", "ssh_keys[0] is not an object"},
        {"{\"ssh_keys\":[{\"name\":\"x\"}]}", "\"id\" is missing"},
        {"{\"ssh_keys\":[{\"id\":0,\"name\":\"x\"}]}", "not a positive integer"},
        {"{\"ssh_keys\":[{\"id\":3}]}", "no \"name\""},
        {"{\"ssh_keys\":[{\"id\":3,\"name\":7}]}", "\"name\" is not a string"},
        {"{\"ssh_keys\":[{\"id\":3,\"name\":\"x\",\"public_key\":[]}]}", "\"public_key\" is not a string"},
        {"{\"ssh_keys\":[],\"links\":[]}", "\"links\" is not an object"},
        {"{\"ssh_keys\":[],\"links\":{\"pages\":\"x\"}}", "\"links.pages\" is not an object"},
        {"{\"ssh_keys\":[],\"links\":{\"pages\":{\"next\":2}}}", "\"links.pages.next\" is not a string"},
        {"{\"ssh_keys\":[],\"links\":{\"pages\":{\"next\":\"https://x/v2/account/keys\"}}}",
         "has no page number"},
        {"{\"ssh_keys\":[],\"meta\":{\"total\":\"1\"}}", "\"meta.total\" is not a count"},
        {"{\"ssh_keys\":[],\"meta\":3}", "\"meta\" is not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_t err = {0};
        do_keys keys = {0};
        if (do_parse_keys(bad[i].json, strlen(bad[i].json), &keys, NULL, &err) != -1)
            fail_msg("accepted %s", bad[i].json);
        assert_int_equal(err.code, ERR_REMOTE);
        HAS(err.msg, "DigitalOcean: unexpected answer: ");
        HAS(err.msg, bad[i].says);
        assert_int_equal(keys.n, 0);
        assert_null(keys.v);
    }
    /* the NUL-less buffer of an answer: only len bytes are read */
    err_t err = {0};
    do_keys keys = {0};
    CHECK(do_parse_keys(keys_doc, strlen(keys_doc), &keys, NULL, &err));
    assert_int_equal(do_parse_keys(keys_doc, strlen(keys_doc) - 1, &keys, NULL, &err), -1);
    assert_int_equal(keys.n, 1);
    do_keys_free(&keys);
}

static void test_droplets_page_as_documented(void **state)
{
    (void)state;
    err_t err = {0};
    do_droplets list = {0};
    do_page page;
    CHECK(do_parse_droplets(droplets_doc, strlen(droplets_doc), &list, &page, &err));
    assert_int_equal(list.n, 2);
    assert_int_equal(list.v[0].id, 3164444);
    assert_string_equal(list.v[0].name, "example.com");
    assert_int_equal(list.v[0].status, DO_STATUS_ACTIVE);
    assert_string_equal(list.v[0].public_ipv4, "192.241.165.154");
    assert_string_equal(list.v[0].private_ipv4, "10.128.192.124");
    assert_int_equal(list.v[1].status, DO_STATUS_OFF);
    assert_string_equal(list.v[1].public_ipv4, "");
    assert_string_equal(list.v[1].private_ipv4, "");
    assert_int_equal(page.next, 0);
    assert_int_equal(page.total, 2);
    do_droplets_free(&list);
}

static void test_droplets_new_unknown_and_odd_networks(void **state)
{
    (void)state;
    err_t err = {0};
    do_droplets list = {0};
    const char odd[] =
        "{\"droplets\":[" DROPLET_DOC("1", "a", "new", "[]") ","
        DROPLET_DOC("2", "b", "migrating", "[{\"ip_address\":\"10.0.0.9\",\"type\":\"anchor\"},"
                    "{\"ip_address\":\"203.0.113.7\",\"type\":\"public\"},"
                    "{\"ip_address\":\"203.0.113.8\",\"type\":\"public\"}]") ","
        "{\"id\":3,\"name\":\"c\",\"status\":\"archive\"},"
        "{\"id\":4,\"name\":\"d\",\"status\":\"active\",\"networks\":{\"v4\":null}}],"
        "\"links\":{\"pages\":{\"next\":\"https://api.digitalocean.com/v2/droplets?page=3&per_page=4&tag_name=t\","
        "\"prev\":\"https://api.digitalocean.com/v2/droplets?page=1&per_page=4\"}}}";
    do_page page;
    CHECK(do_parse_droplets(odd, strlen(odd), &list, &page, &err));
    assert_int_equal(list.n, 4);
    assert_int_equal(list.v[0].status, DO_STATUS_NEW);
    assert_string_equal(list.v[0].public_ipv4, "");
    assert_int_equal(list.v[1].status, DO_STATUS_UNKNOWN);
    assert_string_equal(list.v[1].public_ipv4, "203.0.113.7"); /* the first public */
    assert_string_equal(list.v[1].private_ipv4, "");           /* "anchor" is no type we know */
    assert_int_equal(list.v[2].status, DO_STATUS_ARCHIVE);
    assert_int_equal(list.v[3].status, DO_STATUS_ACTIVE);
    assert_int_equal(page.next, 3);
    assert_string_equal(do_status_name(list.v[1].status), "unknown");
    assert_string_equal(do_status_name(DO_STATUS_NEW), "new");
    do_droplets_free(&list);
}

static void test_droplets_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *json, *says;
    } bad[] = {
        {"{\"droplet\":[]}", "\"droplets\" is missing"},
        {"{\"droplets\":null}", "\"droplets\" is not an array"},
        {"{\"droplets\":[{\"id\":1,\"name\":\"a\"}]}", "droplets[0]: no \"status\""},
        {"{\"droplets\":[{\"id\":1.5,\"name\":\"a\",\"status\":\"new\"}]}", "not a positive integer"},
        {"{\"droplets\":[{\"id\":1,\"name\":\"a\",\"status\":true}]}", "\"status\" is not a string"},
        {"{\"droplets\":[{\"id\":1,\"name\":\"a\",\"status\":\"new\",\"networks\":[]}]}",
         "\"networks\" is not an object"},
        {"{\"droplets\":[{\"id\":1,\"name\":\"a\",\"status\":\"new\",\"networks\":{\"v4\":{}}}]}",
         "\"networks.v4\" is not an array"},
        {"{\"droplets\":[{\"id\":1,\"name\":\"a\",\"status\":\"new\",\"networks\":{\"v4\":["
         "{\"ip_address\":3232235777,\"type\":\"public\"}]}}]}",
         "networks.v4[0] lacks a string ip_address or type"},
        {"{\"droplets\":[{\"id\":1,\"name\":\"a\",\"status\":\"new\",\"networks\":{\"v4\":["
         "{\"ip_address\":\"192.0.2.300\",\"type\":\"public\"}]}}]}",
         "\"192.0.2.300\" is not an IPv4 address"},
        {"{\"droplets\":[{\"id\":1,\"name\":\"a\",\"status\":\"new\",\"networks\":{\"v4\":["
         "{\"ip_address\":\"2604:a880::1\",\"type\":\"public\"}]}}]}",
         "is not an IPv4 address"},
        {"{\"droplets\":[" DROPLET_DOC("1", "a", "new", "[]") ",{\"id\":2}]}", "droplets[1]: no \"name\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_t err = {0};
        do_droplets list = {0};
        if (do_parse_droplets(bad[i].json, strlen(bad[i].json), &list, NULL, &err) != -1)
            fail_msg("accepted %s", bad[i].json);
        assert_int_equal(err.code, ERR_REMOTE);
        HAS(err.msg, bad[i].says);
        assert_int_equal(list.n, 0);
    }
}

static void test_one_droplet(void **state)
{
    (void)state;
    err_t err = {0};
    do_droplet d;
    const char one[] = "{\"droplet\":" DROPLET_DOC("3164494", "example.com", "active", V4_BOTH) "}";
    CHECK(do_parse_droplet(one, strlen(one), &d, &err));
    assert_int_equal(d.id, 3164494);
    assert_string_equal(d.public_ipv4, "192.241.165.154");
    do_droplet_clear(&d);
    assert_null(d.name);
    assert_int_equal(do_parse_droplet("{\"droplets\":[]}", 15, &d, &err), -1);
    HAS(err.msg, "\"droplet\" is missing");
    /* the error object of a 404, handed to the parser by mistake */
    const char nf[] = "{\"id\":\"not_found\",\"message\":\"The resource you requested could not be found.\"}";
    assert_int_equal(do_parse_droplet(nf, strlen(nf), &d, &err), -1);
    assert_null(d.name);
}

static void test_created_single_and_multi(void **state)
{
    (void)state;
    err_t err = {0};
    int64_t ids[3];
    /* droplet_create_response: one droplet, status new, no addresses yet */
    const char single[] = "{\"droplet\":" DROPLET_DOC("3164444", "example.com", "new", "[]") ","
                          "\"links\":{\"actions\":[{\"id\":7515,\"rel\":\"create\","
                          "\"href\":\"https://api.digitalocean.com/v2/actions/7515\"}]}}";
    const char *one[] = {"example.com"};
    CHECK(do_parse_created(single, strlen(single), one, 1, ids, &err));
    assert_int_equal(ids[0], 3164444);

    /* droplet_multi_create_response, answered in another order than asked */
    const char multi[] = "{\"droplets\":[" DROPLET_DOC("3164445", "sub-02.example.com", "new", "[]") ","
                         DROPLET_DOC("3164444", "sub-01.example.com", "new", "[]") "],"
                         "\"links\":{\"actions\":[]}}";
    const char *two[] = {"sub-01.example.com", "sub-02.example.com"};
    CHECK(do_parse_created(multi, strlen(multi), two, 2, ids, &err));
    assert_int_equal(ids[0], 3164444);
    assert_int_equal(ids[1], 3164445);

    /* a name spelled otherwise by the API takes what is left, in order */
    const char *other[] = {"SUB-01.example.com", "sub-02.example.com"};
    CHECK(do_parse_created(multi, strlen(multi), other, 2, ids, &err));
    assert_int_equal(ids[0], 3164444);
    assert_int_equal(ids[1], 3164445);

    /* three asked, two made: the two are known, and the third is an error */
    const char *three[] = {"sub-01.example.com", "sub-02.example.com", "sub-03.example.com"};
    assert_int_equal(do_parse_created(multi, strlen(multi), three, 3, ids, &err), -1);
    HAS(err.msg, "1 droplet(s) asked for but not in the answer");
    HAS(err.msg, "sub-03.example.com");
    assert_int_equal(ids[0], 3164444);
    assert_int_equal(ids[1], 3164445);
    assert_int_equal(ids[2], 0);

    assert_int_equal(do_parse_created("{\"links\":{}}", 12, one, 1, ids, &err), -1);
    HAS(err.msg, "neither \"droplet\" nor \"droplets\"");
    assert_int_equal(ids[0], 0);
    assert_int_equal(do_parse_created("{\"droplets\":{}}", 15, one, 1, ids, &err), -1);
    assert_int_equal(do_parse_created("{\"droplets\":[{\"id\":-1,\"name\":\"example.com\","
                                      "\"status\":\"new\"}]}", 64, one, 1, ids, &err), -1);
}

static void test_page_numbers_of_links(void **state)
{
    (void)state;
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/images?page=2"), 2);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?per_page=200&page=17"), 17);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?page=3&tag_name=a"), 3);
    assert_int_equal(do_page_of("http://127.0.0.1:9/v2/account/keys?page=4#top"), 4);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?per_page=2"), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?pages=2"), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?page=0"), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?page=-1"), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?page=2x"), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?page="), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/page=3/droplets"), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets#x?page=3"), 0);
    assert_int_equal(do_page_of("https://api.digitalocean.com/v2/droplets?page=99999999999999999999"), 0);
    assert_int_equal(do_page_of(NULL), 0);
}

static void test_errors_from_the_error_object(void **state)
{
    (void)state;
    err_t err = {0};
    const char unauth[] = "{\"id\":\"unauthorized\",\"message\":\"Unable to authenticate you\"}";
    assert_int_equal(do_error(401, unauth, strlen(unauth), &err), -1);
    assert_string_equal(err.msg, "DigitalOcean: 401 unauthorized: Unable to authenticate you");
    assert_int_equal(err.code, ERR_REMOTE);

    const char unproc[] = "{\"id\":\"unprocessable_entity\",\"message\":\"Region is not available\","
                          "\"request_id\":\"4851a473-1621-42ea-b2f9-5071c0ea8414\"}";
    do_error(422, unproc, strlen(unproc), &err);
    assert_string_equal(err.msg, "DigitalOcean: 422 unprocessable_entity: Region is not available "
                                 "(request 4851a473-1621-42ea-b2f9-5071c0ea8414)");
    assert_int_equal(err.code, ERR_INVALID);

    const char nf[] = "{\"id\":\"not_found\",\"message\":\"The resource you requested could not be found.\"}";
    do_error(404, nf, strlen(nf), &err);
    assert_int_equal(err.code, ERR_NOTFOUND);
    const char many[] = "{\"id\":\"too_many_requests\",\"message\":\"API rate limit exceeded.\"}";
    do_error(429, many, strlen(many), &err);
    assert_int_equal(err.code, ERR_UNAVAIL);
    assert_string_equal(err.msg, "DigitalOcean: 429 too_many_requests: API rate limit exceeded.");
    const char forbidden[] = "{\"id\":\"forbidden\",\"message\":\"You do not have access for the attempted action.\"}";
    do_error(403, forbidden, strlen(forbidden), &err);
    assert_int_equal(err.code, ERR_REMOTE);
    const char server[] = "{\"id\":\"server_error\",\"message\":\"Unexpected server-side error\"}";
    do_error(500, server, strlen(server), &err);
    assert_int_equal(err.code, ERR_UNAVAIL);
    const char bad[] = "{\"id\":\"bad_request\",\"message\":\"error parsing request body\"}";
    do_error(400, bad, strlen(bad), &err);
    assert_int_equal(err.code, ERR_INVALID);

    /* an id without a message, a message without an id */
    do_error(409, "{\"id\":\"conflict\"}", 17, &err);
    assert_string_equal(err.msg, "DigitalOcean: 409 conflict: (no message)");
    assert_int_equal(err.code, ERR_CONFLICT);
    do_error(422, "{\"message\":\"names: too many\"}", 29, &err);
    assert_string_equal(err.msg, "DigitalOcean: 422: names: too many");
}

static void test_errors_without_the_error_object(void **state)
{
    (void)state;
    err_t err = {0};
    do_error(500, "", 0, &err);
    assert_string_equal(err.msg, "DigitalOcean: 500 Internal Server Error");
    do_error(502, NULL, 0, &err);
    assert_string_equal(err.msg, "DigitalOcean: 502 Bad Gateway");
    const char html[] = "<html>\r\n<head><title>502 Bad Gateway</title></head>\n</html>";
    do_error(502, html, strlen(html), &err);
    HAS(err.msg, "DigitalOcean: 502 Bad Gateway: <html>  <head><title>502");
    assert_null(strchr(err.msg, '\n'));
    assert_null(strchr(err.msg, '\r'));
    do_error(418, "[1,2]", 5, &err);
    assert_string_equal(err.msg, "DigitalOcean: 418 : [1,2]");
    assert_int_equal(err.code, ERR_REMOTE);
    /* a message with line breaks, and one far too long for err_t */
    const char nl[] = "{\"id\":\"x\",\"message\":\"one\\ntwo\"}";
    do_error(422, nl, strlen(nl), &err);
    assert_string_equal(err.msg, "DigitalOcean: 422 x: one two");
    char big[4096] = "{\"id\":\"unprocessable_entity\",\"message\":\"";
    size_t at = strlen(big);
    memset(big + at, 'm', 3000);
    strcpy(big + at + 3000, "\"}");
    do_error(422, big, strlen(big), &err);
    assert_true(strlen(err.msg) < sizeof err.msg);
    HAS(err.msg, "mmm...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_page_as_documented),
        cmocka_unit_test(test_keys_pages_append_and_a_bad_page_keeps_the_earlier),
        cmocka_unit_test(test_keys_optional_fields_and_an_empty_account),
        cmocka_unit_test(test_keys_malformed),
        cmocka_unit_test(test_droplets_page_as_documented),
        cmocka_unit_test(test_droplets_new_unknown_and_odd_networks),
        cmocka_unit_test(test_droplets_malformed),
        cmocka_unit_test(test_one_droplet),
        cmocka_unit_test(test_created_single_and_multi),
        cmocka_unit_test(test_page_numbers_of_links),
        cmocka_unit_test(test_errors_from_the_error_object),
        cmocka_unit_test(test_errors_without_the_error_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
