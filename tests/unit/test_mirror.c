/* test_mirror.c - unit tests for the mirror's merge of a batch of watch events
 * into its sorted copy (lib/mirror.c, mirror_merge): order, the last change of a
 * key winning, deletes, copies, and a model check over random batches. The watch
 * that feeds it runs against real etcd in the end-to-end suites (the ambassador's
 * links, the builder's API). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mirror_internal.h"

static etcd_event put(const char *key, const char *value)
{
    return (etcd_event){.type = ETCD_EVENT_PUT,
                        .kv = {.key = (char *)key, .value = (char *)value, .value_len = strlen(value)}};
}

static etcd_event del(const char *key)
{
    return (etcd_event){.type = ETCD_EVENT_DELETE, .kv = {.key = (char *)key, .value = ""}};
}

/* kvs as "k=v k=v ..." */
static char *show(const etcd_kvs *kvs)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < kvs->n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s=%s", i ? " " : "",
                                kvs->kvs[i].key, kvs->kvs[i].value);
    return buf;
}

static void test_a_batch_lands_sorted_and_the_last_change_of_a_key_wins(void **state)
{
    (void)state;
    etcd_kvs kvs = {0};
    char value[] = "one"; /* the mirror keeps copies: this buffer changes after */
    etcd_event first[] = {put("/c", value), put("/a", "1"), put("/b", "2"), put("/a", "3")};
    assert_int_equal(mirror_merge(&kvs, first, 4), 0);
    strcpy(value, "two");
    assert_string_equal(show(&kvs), "/a=3 /b=2 /c=one");

    etcd_event second[] = {del("/b"),       put("/d", "4"), del("/zz"), put("/0", "0"),
                           put("/b", "5"),  del("/c"),      put("/e", "6"), del("/e")};
    assert_int_equal(mirror_merge(&kvs, second, 8), 0);
    assert_string_equal(show(&kvs), "/0=0 /a=3 /b=5 /d=4");
    assert_int_equal(mirror_merge(&kvs, NULL, 0), 0); /* an empty batch */
    assert_string_equal(show(&kvs), "/0=0 /a=3 /b=5 /d=4");
    etcd_kvs_free(&kvs);
}

/* A model: the events applied one at a time to an array of NKEYS slots. */
#define NKEYS 200
static void model_apply(char *model[NKEYS], const etcd_event *ev)
{
    int i = atoi(ev->kv.key + 2);
    free(model[i]);
    model[i] = ev->type == ETCD_EVENT_PUT ? strdup(ev->kv.value) : NULL;
}

/* Random batches (1 to 300 changes of 200 keys, puts and deletes, repeats within a
 * batch) against the model, with a fixed seed: same contents, sorted. */
static void test_random_batches_match_one_change_at_a_time(void **state)
{
    (void)state;
    static char keys[NKEYS][16], values[300][40];
    char *model[NKEYS] = {0};
    etcd_kvs kvs = {0};
    etcd_event batch[300];
    unsigned seed = 12345;
    for (int i = 0; i < NKEYS; i++)
        snprintf(keys[i], sizeof keys[i], "/k%03d", i);
    for (int round = 0; round < 500; round++) {
        size_t n = (size_t)(rand_r(&seed) % 300) + 1;
        for (size_t j = 0; j < n; j++) {
            int key = rand_r(&seed) % NKEYS;
            snprintf(values[j], sizeof values[j], "r%dj%zu", round, j);
            batch[j] = rand_r(&seed) % 3 ? put(keys[key], values[j]) : del(keys[key]);
            model_apply(model, &batch[j]);
        }
        assert_int_equal(mirror_merge(&kvs, batch, n), 0);
        size_t at = 0;
        for (int i = 0; i < NKEYS; i++) {
            if (!model[i])
                continue;
            assert_true(at < kvs.n);
            assert_string_equal(kvs.kvs[at].key, keys[i]);
            assert_string_equal(kvs.kvs[at].value, model[i]);
            at++;
        }
        assert_int_equal(at, kvs.n);
    }
    for (int i = 0; i < NKEYS; i++)
        free(model[i]);
    etcd_kvs_free(&kvs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_batch_lands_sorted_and_the_last_change_of_a_key_wins),
        cmocka_unit_test(test_random_batches_match_one_change_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
