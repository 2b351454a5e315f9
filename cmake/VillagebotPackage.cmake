# `cmake --install` ships a CMake package so that plugins can be built outside
# this tree: find_package(villagebot) then link villagebot::sdk.
include(CMakePackageConfigHelpers)
set(VILLAGEBOT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/villagebot)
install(EXPORT villagebotTargets NAMESPACE villagebot:: DESTINATION ${VILLAGEBOT_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/villagebotConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/villagebotConfig.cmake
  INSTALL_DESTINATION ${VILLAGEBOT_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/villagebotConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/villagebotConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/villagebotConfigVersion.cmake
  DESTINATION ${VILLAGEBOT_CMAKE_DIR})
