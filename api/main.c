/* main.c - argv -> subcommand table (temporary skeleton) */
#include <stdio.h>
int main(void)
{
    return 0;
}
