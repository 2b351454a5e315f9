# Warnings, sanitizers and the helper that turns a folder into a loadable module.
add_library(villagebot_warnings INTERFACE)
target_compile_options(villagebot_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2)
if(VILLAGEBOT_WERROR)
  target_compile_options(villagebot_warnings INTERFACE -Werror)
endif()
# GCC 12's optimised builds (demo.sh, the package, the benchmarks) report -Wrestrict inside
# libstdc++ for `"literal" + std::string` (GCC bug 105329, fixed in 13) and -Wmaybe-uninitialized
# inside std::variant and std::optional: 23 false positives in a Release build, none in our code.
# The Debug test build is unaffected (gcc runs neither analysis at -O0).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(villagebot_warnings INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:-Wno-restrict -Wno-maybe-uninitialized>)
endif()

# The test build (scripts/test.sh): ASan and UBSan, without UBSan's vptr, alignment and null checks.
# Those three nearly double gcc's compile time at -O0 (http_client.cpp: 55 s against 31 s without
# them and 31 s with ASan alone) and add little here: a null dereference is still a SEGV that ASan
# reports with its stack, a freed object behind a vptr is ASan's use-after-free, and the parsers of
# outside bytes are also built with the full -fsanitize=undefined by the fuzz build below.
if(VILLAGEBOT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr,alignment,null -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# VILLAGEBOT_LINKER=lld (the test and fuzz presets): link with LLVM's lld, 2.5 times faster than
# GNU ld on the sanitized test binaries (1.7 s against 4.2 s each, about fifty of them). Falls back
# to the compiler's default linker, with a message, where ld.lld is not installed.
set(VILLAGEBOT_LINKER "" CACHE STRING "Linker for -fuse-ld= (empty: the compiler's default)")
if(VILLAGEBOT_LINKER)
  find_program(VILLAGEBOT_LINKER_PROGRAM NAMES ld.${VILLAGEBOT_LINKER})
  if(VILLAGEBOT_LINKER_PROGRAM)
    add_link_options(-fuse-ld=${VILLAGEBOT_LINKER})
  else()
    message(STATUS "villagebot: ld.${VILLAGEBOT_LINKER} not found; linking with the default linker")
  endif()
endif()

# libFuzzer (clang only): every library gets coverage instrumentation and the sanitizers; only the
# fuzz targets themselves link libFuzzer's main (tests/fuzz/CMakeLists.txt).
if(VILLAGEBOT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VILLAGEBOT_FUZZ needs clang (the fuzz preset sets clang++); this is ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# villagebot_module(<target> KIND plugin|adapter SOURCES ... LIBS ...)
# A MODULE library named villagebot_<kind>_<name>.so in the shared module folder.
function(villagebot_module target)
  cmake_parse_arguments(M "" "KIND;NAME" "SOURCES;LIBS" ${ARGN})
  add_library(${target} MODULE ${M_SOURCES})
  target_link_libraries(${target} PRIVATE villagebot::sdk villagebot_warnings ${M_LIBS})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "villagebot_${M_KIND}_${M_NAME}"
    LIBRARY_OUTPUT_DIRECTORY ${VILLAGEBOT_MODULE_DIR})
  install(TARGETS ${target} LIBRARY DESTINATION ${VILLAGEBOT_MODULE_INSTALL_DIR})
endfunction()
