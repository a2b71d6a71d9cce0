# Writes EmbeddedHeaders.inc: the runtime's public C headers as string
# literals, so generated code and library headers are self-contained.
file(READ "${ABI_HEADER}" abi)
file(READ "${API_HEADER}" api)
# The API header includes the ABI header; the embedded copy has it inline.
string(REPLACE "#include \"nibble/Runtime/ModelABI.h\"" "" api "${api}")
file(WRITE "${OUTPUT}"
  "static const char kModelABIHeader[] = R\"NIBBLE_HEADER(${abi})NIBBLE_HEADER\";\n"
  "static const char kNibbleAPIHeader[] = R\"NIBBLE_HEADER(${api})NIBBLE_HEADER\";\n")
