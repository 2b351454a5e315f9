# Warnings, sanitizers and the helper that turns a folder into a loadable module.
add_library(villagebot_warnings INTERFACE)
target_compile_options(villagebot_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2)
if(VILLAGEBOT_WERROR)
  target_compile_options(villagebot_warnings INTERFACE -Werror)
endif()

if(VILLAGEBOT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
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
