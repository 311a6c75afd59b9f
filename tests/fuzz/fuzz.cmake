# libFuzzer harnesses (tests/fuzz/README.md), built with -DCLMTT_FUZZ=ON and clang
# (tools/fuzz.sh configures build-fuzz/ with Debian's clang-16). Each tests/fuzz/<name>.c
# becomes fuzz_<name>, linked against the readers of outside bytes, which need no OpenCL
# device and are compiled here again with the fuzzer's instrumentation.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "clmtt: CLMTT_FUZZ needs clang (libFuzzer); configure with CC=clang-16 (tools/fuzz.sh does it).")
endif()
set(CLMTT_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
add_library(clmttfuzzhost STATIC
  ${CMAKE_SOURCE_DIR}/host/core/util.c
  ${CMAKE_SOURCE_DIR}/host/core/dist.c
  ${CMAKE_SOURCE_DIR}/host/io/safetensors.c
  ${CMAKE_SOURCE_DIR}/host/data/idx.c
  ${CMAKE_SOURCE_DIR}/host/data/cifar.c
  ${CMAKE_SOURCE_DIR}/host/io/png.c
  ${CMAKE_SOURCE_DIR}/host/io/jpeg.c
  ${CMAKE_SOURCE_DIR}/host/data/image.c
  ${CMAKE_SOURCE_DIR}/host/data/folder_cache.c
  ${CMAKE_SOURCE_DIR}/data/subsets.c
  ${SUBSETS_C}
  ${CMAKE_SOURCE_DIR}/host/core/device_pick.c
  ${CMAKE_SOURCE_DIR}/host/cli/cli.c
  ${CMAKE_SOURCE_DIR}/host/cli/cli_config.c
  ${CMAKE_SOURCE_DIR}/host/cli/config_yaml.c)
# util.c's die() and warn() ask dist.c for the rank (MPI_Init runs only under an MPI launcher).
# The library's objects get the coverage and sanitizer instrumentation but no main().
target_compile_options(clmttfuzzhost PRIVATE -fsanitize=fuzzer-no-link,address,undefined
  -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
target_include_directories(clmttfuzzhost PUBLIC ${CMAKE_SOURCE_DIR}/host ${CMAKE_SOURCE_DIR} ${TURBOJPEG_INC}
  ${CL_HEADERS_INC})
target_link_libraries(clmttfuzzhost PUBLIC PkgConfig::PNG PkgConfig::ZLIB PkgConfig::CJSON PkgConfig::YAML ${TURBOJPEG_LIB}
  PkgConfig::OPENBLAS MPI::MPI_C m)

file(GLOB CLMTT_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/*.c)
list(SORT CLMTT_FUZZ_SOURCES)
foreach(src ${CLMTT_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(fuzz_${name} ${src})
  target_compile_options(fuzz_${name} PRIVATE ${CLMTT_FUZZ_FLAGS})
  # die() goes to the harness's __wrap_die (tests/fuzz/fuzz_common.h).
  target_link_options(fuzz_${name} PRIVATE ${CLMTT_FUZZ_FLAGS} -Wl,--wrap=die)
  target_link_libraries(fuzz_${name} PRIVATE clmttfuzzhost)
  # About 10^4 executions from the seed corpus (read only: -runs with no output folder).
  add_test(NAME fuzz_${name}_smoke
    COMMAND ${CMAKE_SOURCE_DIR}/tools/fuzz.sh --run-only $<TARGET_FILE:fuzz_${name}> ${name} 10000)
  set_tests_properties(fuzz_${name}_smoke PROPERTIES TIMEOUT 300 LABELS fuzz)
endforeach()
