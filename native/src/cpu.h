/* cpu.h - the read-only capability word.  zka_cap is written exactly once, by a
 * load-time constructor (before any other thread can call into the library),
 * and only read afterwards.  ZKATTEST_NO_ASM=1 in the environment at load time
 * forces the portable paths. */
#ifndef ZKA_CPU_H
#define ZKA_CPU_H
#include <stdint.h>
static uint32_t zka_cap;
#define ZKA_HAS_ADX() ((zka_cap & (ZKA_CPU_ADX | ZKA_CPU_BMI2)) == (ZKA_CPU_ADX | ZKA_CPU_BMI2))
#endif
