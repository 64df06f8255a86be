#include <stdio.h>

#include "loupe.h"

int main(void) {
    puts("loupe");
    return 0;
}
