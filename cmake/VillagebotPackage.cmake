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

# The Debian package (issue 13): `scripts/package.sh` builds it with CPack. Installed layout:
# /usr/bin/villagebot, the modules in <libdir>/villagebot/plugins, the SDK and this CMake package,
# the systemd unit, a first config (copied to /etc/villagebot by postinst), the alert rules and
# the documentation.
set(VILLAGEBOT_PACKAGE_MODULE_DIR ${CMAKE_INSTALL_FULL_LIBDIR}/villagebot/plugins)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/config/package/villagebot.toml.in
  ${CMAKE_CURRENT_BINARY_DIR}/package/villagebot.toml @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/package/villagebot.toml DESTINATION ${CMAKE_INSTALL_DATADIR}/villagebot)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/config/systemd/villagebot.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/config/prometheus/villagebot-alerts.yml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/villagebot/prometheus)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/README.md ${CMAKE_CURRENT_SOURCE_DIR}/docs/API.md
  ${CMAKE_CURRENT_SOURCE_DIR}/config/villagebot.example.toml DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/docs/OPERATIONS.md DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME villagebot)
set(CPACK_PACKAGE_VENDOR "villagebot")
set(CPACK_PACKAGE_CONTACT "villagebot maintainers <villagebot@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "village co-governance over group chats and SMS (村务助手)")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "villagebot carries a village's notices, opinions and polls, household points, volunteer rotas\n and emergency mobilisation over WeCom, DingTalk, Feishu, Slack, Telegram and SMS.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_SOURCE_DIR}/config/package/postinst
  ${CMAKE_CURRENT_SOURCE_DIR}/config/package/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/config/package/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
