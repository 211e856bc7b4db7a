# cmake -DIN=compiled.mgc -DOUT=file.cc -P embed_magic.cmake: the compiled
# common-types magic database as a C++ array (policy/rules/type_detect.cc).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_length)
if(hex_length EQUAL 0)
  message(FATAL_ERROR "embed_magic: ${IN} is empty")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}
  "// Generated from policy/rules/common_types.magic by embed_magic.cmake.\n"
  "#include <cstddef>\n"
  "namespace mm::policy {\n"
  "extern const unsigned char kCommonTypesMagic[];\n"
  "extern const std::size_t kCommonTypesMagicSize;\n"
  "const unsigned char kCommonTypesMagic[] = {${bytes}};\n"
  "const std::size_t kCommonTypesMagicSize = sizeof(kCommonTypesMagic);\n"
  "}  // namespace mm::policy\n")
