# Sanitizer build (npm run build:asan -> build-asan/Release/*.node): both addons and the kernel library
# compiled with AddressSanitizer and UndefinedBehaviorSanitizer. Every UBSan finding is fatal
# (-fno-sanitize-recover), so a report fails the test run instead of scrolling by. The addons are loaded
# into an uninstrumented Node, so the ASan runtime must be preloaded (scripts/test-asan.js does it);
# the runtime this compiler links against is written to <build>/sanitizer-runtime.txt for that script.
option(ROSETTA_SANITIZE "Build with -fsanitize=address,undefined" OFF)
if(ROSETTA_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_compile_options(${_san})
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    set(_rt_name libclang_rt.asan-x86_64.so)
  else()
    set(_rt_name libasan.so)
  endif()
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${_rt_name}
    OUTPUT_VARIABLE _rt OUTPUT_STRIP_TRAILING_WHITESPACE)
  get_filename_component(_rt "${_rt}" REALPATH)
  file(WRITE "${CMAKE_BINARY_DIR}/sanitizer-runtime.txt" "${_rt}\n")
  message(STATUS "rosetta: sanitizer build (ASan + UBSan), runtime ${_rt}")
endif()
