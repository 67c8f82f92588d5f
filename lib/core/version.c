#include "bitnet.h"

uint32_t bitnet_version(void)
{
    return BITNET_VERSION_NUMBER;
}

const char *bitnet_version_string(void)
{
    return BITNET_VERSION_STRING;
}
