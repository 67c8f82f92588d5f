/* Locating ../shared/fixtures from tests: $BITNET_FIXTURES overrides the
 * default the build passes in (BITNET_FIXTURES_DEFAULT). */
#ifndef BITNET_TEST_FIXTURES_H
#define BITNET_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline const char *fixtures_dir(void)
{
    const char *env = getenv("BITNET_FIXTURES");
#ifdef BITNET_FIXTURES_DEFAULT
    if (!env || !*env)
        env = BITNET_FIXTURES_DEFAULT;
#endif
    struct stat st;
    return env && stat(env, &st) == 0 && S_ISDIR(st.st_mode) ? env : NULL;
}

/* Full path of a file under the fixtures folder, or NULL if the folder is absent. */
static inline const char *fixture_path(char *buf, size_t cap, const char *rel)
{
    const char *dir = fixtures_dir();
    if (!dir)
        return NULL;
    snprintf(buf, cap, "%s/%s", dir, rel);
    return buf;
}

/* cmocka: skip the current test, saying why, when fixtures are missing. */
#define REQUIRE_FIXTURES()                                                                         \
    do {                                                                                           \
        if (!fixtures_dir()) {                                                                     \
            print_message("fixtures folder not found (set BITNET_FIXTURES): skipping\n");          \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

#endif
