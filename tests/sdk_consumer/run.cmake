# Installs villagebot into a temporary prefix, builds tests/sdk_consumer
# against it with find_package, and talks to the loaded plugin through
# `villagebot chat`.
set(prefix ${BINARY_DIR}/sdk-consumer/prefix)
set(build ${BINARY_DIR}/sdk-consumer/build)
set(work ${BINARY_DIR}/sdk-consumer/work)
file(REMOVE_RECURSE ${BINARY_DIR}/sdk-consumer)
file(MAKE_DIRECTORY ${work})

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

step(${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix})
set(flags "")
if(SANITIZE)
  set(flags "-fsanitize=address,undefined")
endif()
step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/sdk_consumer -B ${build} -G ${GENERATOR}
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} "-DCMAKE_CXX_FLAGS=${flags}"
  "-DCMAKE_MODULE_LINKER_FLAGS=${flags}")
step(${CMAKE_COMMAND} --build ${build})

# The installed server, the installed console adapter and the external plugin in one folder.
file(GLOB installed_modules ${prefix}/lib*/villagebot/plugins/villagebot_adapter_console.so)
file(COPY ${installed_modules} ${build}/villagebot_plugin_hello.so DESTINATION ${work}/plugins)
file(WRITE ${work}/people.csv "户号,户主,姓名,手机\nH001,王大山,王大山,13800000001\n")
file(WRITE ${work}/villagebot.toml
"[village]\nname = \"外部村\"\n[storage]\npath = \"${work}/v.db\"\n[plugins]\ndir = \"${work}/plugins\"\nenabled = [\"hello\"]\n")
step(${prefix}/bin/villagebot import people ${work}/people.csv --config ${work}/villagebot.toml)
file(WRITE ${work}/input.txt "你好插件\n")
execute_process(COMMAND ${prefix}/bin/villagebot chat --as 13800000001 --config ${work}/villagebot.toml
  INPUT_FILE ${work}/input.txt RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "来自外部插件的问候，王大山（外部村）")
  message(FATAL_ERROR "the external plugin did not answer (exit ${rc}):\n${out}\n${err}")
endif()
message(STATUS "external plugin answered: ${out}")
