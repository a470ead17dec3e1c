# The thin N-API binding over the kernel library.
execute_process(COMMAND node -p "require('node-addon-api').include"
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE NODE_ADDON_API_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REPLACE "\"" "" NODE_ADDON_API_DIR "${NODE_ADDON_API_DIR}")

file(GLOB ROSETTA_ADDON_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/native/addon/*.cc)
add_library(rosetta SHARED ${ROSETTA_ADDON_SRC} ${CMAKE_JS_SRC})
set_target_properties(rosetta PROPERTIES PREFIX "" SUFFIX ".node")
target_include_directories(rosetta PRIVATE ${CMAKE_JS_INC} ${NODE_ADDON_API_DIR} ${CMAKE_SOURCE_DIR}/native/common)
target_compile_definitions(rosetta PRIVATE NAPI_CPP_EXCEPTIONS)
target_compile_options(rosetta PRIVATE -O2 -Wall -Wextra -Wno-unused-parameter)
target_link_libraries(rosetta PRIVATE rosetta_kernels ${CMAKE_JS_LIB})
