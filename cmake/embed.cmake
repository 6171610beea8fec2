# cmake -DOUT=assets_data.c -DFILES="dir/a.html|dir/b.js" -P embed.cmake
# Writes a C file holding each file's bytes, for the builder to serve from memory
# (src/builder/assets.c): the console and openapi.json ship inside the binary.
set(out "/* made by cmake/embed.cmake at build time; do not edit */\n#include \"assets.h\"\n\n")
set(table "")
string(REPLACE "|" ";" FILES "${FILES}")
set(i 0)
foreach(f ${FILES})
  get_filename_component(name ${f} NAME)
  file(READ ${f} hex HEX)
  file(SIZE ${f} size)
  string(REGEX REPLACE "(..)" "0x\\1," hex "${hex}")
  string(APPEND out "static const unsigned char assets_${i}[] = {${hex}0};\n")
  string(APPEND table "    {\"${name}\", assets_${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND out "\nconst assets_file assets_files[] = {\n${table}};\nconst size_t assets_nfiles = ${i};\n")
file(WRITE ${OUT} "${out}")
