# llama.cpp reference bridge: native/llama/*.cc -> <build>/Release/rosetta_llama.node.
#
# Links the unmodified prebuilt libllama/libggml of @node-llama-cpp/linux-x64 (pinned, exact version) and
# takes the matching headers from node-llama-cpp's git bundle, extracted offline at configure time. When
# either package is missing (another platform, --omit=optional) the bridge is skipped and everything else
# still builds; rosetta then reports which package to install when the bridge is needed.
set(ROSETTA_LLAMA_COMMIT "de3ff815ea7d559ee917f063901b8986f038abc6")
set(ROSETTA_LLAMA_TAG "v0.5.0")
set(ROSETTA_LLAMA_BUNDLE "${CMAKE_SOURCE_DIR}/node_modules/node-llama-cpp/llama/gitRelease.bundle")
set(ROSETTA_LLAMA_BINS "${CMAKE_SOURCE_DIR}/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64")

function(rosetta_llama_skip why)
  message(STATUS "rosetta: llama.cpp bridge skipped (${why}); install it with "
    "`npm install @node-llama-cpp/linux-x64@3.22.1 node-llama-cpp@3.22.1`")
endfunction()

if(NOT EXISTS "${ROSETTA_LLAMA_BUNDLE}")
  rosetta_llama_skip("node-llama-cpp is not installed")
  return()
endif()
if(NOT EXISTS "${ROSETTA_LLAMA_BINS}/libllama.v0.5.0.so")
  rosetta_llama_skip("@node-llama-cpp/linux-x64 is not installed")
  return()
endif()
find_package(Git QUIET)
if(NOT GIT_FOUND)
  rosetta_llama_skip("git is needed to read the headers from the bundle")
  return()
endif()

# Headers: only include/ and ggml/include/ at the pinned commit, re-extracted when the commit changes.
set(_hdr "${CMAKE_BINARY_DIR}/llama-headers")
set(_stamp "${_hdr}/.commit")
set(_have "")
if(EXISTS "${_stamp}")
  file(READ "${_stamp}" _have)
endif()
if(NOT _have STREQUAL ROSETTA_LLAMA_COMMIT)
  file(REMOVE_RECURSE "${_hdr}")
  file(MAKE_DIRECTORY "${_hdr}")
  execute_process(
    COMMAND ${GIT_EXECUTABLE} clone --quiet --bare "${ROSETTA_LLAMA_BUNDLE}" "${_hdr}/repo.git"
    RESULT_VARIABLE _r1 OUTPUT_QUIET ERROR_VARIABLE _e1)
  execute_process(
    COMMAND ${GIT_EXECUTABLE} --git-dir "${_hdr}/repo.git" rev-parse HEAD
    RESULT_VARIABLE _r2 OUTPUT_VARIABLE _head OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT _r1 EQUAL 0 OR NOT _r2 EQUAL 0)
    rosetta_llama_skip("cannot read ${ROSETTA_LLAMA_BUNDLE}: ${_e1}")
    return()
  endif()
  if(NOT _head STREQUAL ROSETTA_LLAMA_COMMIT)
    rosetta_llama_skip("bundle is at ${_head}, expected ${ROSETTA_LLAMA_COMMIT} (node-llama-cpp must be 3.22.1)")
    return()
  endif()
  execute_process(
    COMMAND ${GIT_EXECUTABLE} --git-dir "${_hdr}/repo.git" archive --format=tar -o "${_hdr}/h.tar"
            ${ROSETTA_LLAMA_COMMIT} include ggml/include
    RESULT_VARIABLE _r3 ERROR_VARIABLE _e3)
  if(NOT _r3 EQUAL 0)
    rosetta_llama_skip("git archive failed: ${_e3}")
    return()
  endif()
  file(ARCHIVE_EXTRACT INPUT "${_hdr}/h.tar" DESTINATION "${_hdr}")
  file(REMOVE_RECURSE "${_hdr}/repo.git" "${_hdr}/h.tar")
  file(WRITE "${_stamp}" "${ROSETTA_LLAMA_COMMIT}")
endif()

file(GLOB ROSETTA_LLAMA_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/native/llama/*.cc)
if(NOT ROSETTA_LLAMA_SRC)
  rosetta_llama_skip("no sources in native/llama")
  return()
endif()
add_library(rosetta_llama SHARED ${ROSETTA_LLAMA_SRC} ${CMAKE_JS_SRC})
set_target_properties(rosetta_llama PROPERTIES PREFIX "" SUFFIX ".node"
  BUILD_RPATH "${ROSETTA_LLAMA_BINS}" INSTALL_RPATH "${ROSETTA_LLAMA_BINS}")
target_include_directories(rosetta_llama PRIVATE ${CMAKE_JS_INC} ${NODE_ADDON_API_DIR} ${CMAKE_SOURCE_DIR}/native/common
  "${_hdr}/include" "${_hdr}/ggml/include")
target_compile_definitions(rosetta_llama PRIVATE NAPI_CPP_EXCEPTIONS
  ROSETTA_LLAMA_COMMIT="${ROSETTA_LLAMA_COMMIT}" ROSETTA_LLAMA_TAG="${ROSETTA_LLAMA_TAG}"
  ROSETTA_LLAMA_BINS="${ROSETTA_LLAMA_BINS}")
target_compile_options(rosetta_llama PRIVATE -O2 -Wall -Wextra -Wno-unused-parameter)
target_link_directories(rosetta_llama PRIVATE "${ROSETTA_LLAMA_BINS}")
target_link_libraries(rosetta_llama PRIVATE rosetta_kernels
  -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so ${CMAKE_JS_LIB})
