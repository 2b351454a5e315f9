# Every fuzz target and the parser libraries it needs (tests/fuzz/CMakeLists.txt); scripts/fuzz.sh
# runs the targets listed in tests/fuzz/targets*.cmake. One line per target.
villagebot_fuzz_target(cron LIBS villagebot_parsers)
include(${CMAKE_CURRENT_LIST_DIR}/targets_adapters.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/targets_core.cmake OPTIONAL)
