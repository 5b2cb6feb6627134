/* test_main.c - the shared main() of every test executable: `-t pattern` selects tests
 * (cmocka_set_test_filter), then the file's tsp_test_run() runs.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            cmocka_set_test_filter(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [-t pattern]\n", argv[0]);
            return 2;
        }
    }
    return tsp_test_run() == 0 ? 0 : 1;
}
