# tessera_hsm_labels(<gtest target> <label>...)
# gtest_discover_tests (CMake 3.25) keeps only the first of several LABELS passed through
# tessera_add_gtest. This sets the full list at ctest time, after discovery, on every test
# the target's discovery produced (<target>_TESTS), so `ctest -L tpm` / `-L pkcs11` select
# them while `-L hsm` still does. Harmless once the labels arrive intact.
function(tessera_hsm_labels target)
  set(script "${CMAKE_CURRENT_BINARY_DIR}/${target}_labels.cmake")
  file(WRITE "${script}"
       "if(DEFINED ${target}_TESTS)\n"
       "  set_tests_properties(\${${target}_TESTS} PROPERTIES LABELS \"${ARGN}\")\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${script}")
endfunction()
