/* tsvault entry point (placeholder until the server lands). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "tsvault: not built yet\n");
    return 1;
}
