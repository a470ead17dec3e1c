# Kernel library: scalar reference + AVX2/FMA + AVX-512, each ISA in its own translation units with its
# own flags, so one binary holds every path and tests can force any of them (ROSETTA_ISA).
file(GLOB ROSETTA_KERNELS_COMMON CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/*.cpp)
file(GLOB ROSETTA_KERNELS_REF    CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/ref/*.cpp)
file(GLOB ROSETTA_KERNELS_AVX2   CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/arch/x86/avx2/*.cpp)
file(GLOB ROSETTA_KERNELS_AVX512 CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/arch/x86/avx512/*.cpp)

add_library(rosetta_kernels STATIC
  ${ROSETTA_KERNELS_COMMON} ${ROSETTA_KERNELS_REF} ${ROSETTA_KERNELS_AVX2} ${ROSETTA_KERNELS_AVX512})
target_include_directories(rosetta_kernels PUBLIC ${CMAKE_SOURCE_DIR}/kernels/include)
# The scalar reference must stay scalar and IEEE-exact: no FMA contraction, no fast-math.
target_compile_options(rosetta_kernels PRIVATE -O2 -Wall -Wextra -fno-fast-math -ffp-contract=off)
set_source_files_properties(${ROSETTA_KERNELS_AVX2} PROPERTIES
  COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mbmi2")
set_source_files_properties(${ROSETTA_KERNELS_AVX512} PROPERTIES
  COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx512bf16;-mavx2;-mfma;-mf16c;-mbmi2")
find_package(Threads REQUIRED)
target_link_libraries(rosetta_kernels PUBLIC Threads::Threads)
