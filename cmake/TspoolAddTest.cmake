# TspoolAddTest.cmake - tspool_add_test(): one cmocka executable + one ctest entry
# SPDX-License-Identifier: MIT
#
# tspool_add_test(NAME <name> SOURCES <files...> LABELS unit|integration [LINK <libs...>]
#                 [TIMEOUT <seconds>])
function(tspool_add_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LABELS;LINK" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE tspool_testsupport ${T_LINK} PkgConfig::CMOCKA)
    # cmocka's assert_* macros end a failed test by longjmp, which GCC cannot see: at -O2 it
    # then reports a dereference after assert_non_null() as a possible NULL dereference
    if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
        target_compile_options(${T_NAME} PRIVATE -Wno-null-dereference)
    endif()
    target_include_directories(${T_NAME} PRIVATE ${TSPOOL_PRIVATE_INCLUDE_DIRS}
                               ${PROJECT_SOURCE_DIR}/tests/support)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
        ENVIRONMENT "TSPOOL_SOURCE_DIR=${PROJECT_SOURCE_DIR};TSPOOL_BINARY=$<TARGET_FILE:tspool>")
endfunction()
