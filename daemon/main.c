#include "config.h"
#include <stdio.h>
int main(void) { puts("iopd"); return 0; }
