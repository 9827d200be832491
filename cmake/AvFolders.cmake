# Every folder of the programs is a library of its own that names the folders it uses.
#
#   av_folder(NAME target DIR path/from/root [DEPS folder targets...] [LIBS other libraries...]
#             [EXCLUDE file.cc...] [PROTOS])
#
# builds the folder's .cc files (EXCLUDE left out) into `target`, linked to DEPS and LIBS.
# av_check_folders() then fails the configure step, and so the build, when a file includes a
# header of a folder its own folder does not name in DEPS, when a folder that is not marked
# PROTOS (the bus edge) includes a generated protobuf header, or when the named folders form a
# cycle. The folder tree is the architecture; this keeps it the one that is built.

set(AV_UNITY_BATCH 8 CACHE STRING "files per compiled batch of a folder (0: one at a time)")

# Batches `target`'s files (see AV_UNITY_BATCH). GCC then sees a folder's anonymous namespaces
# as those of another file and would warn about each type using one (-Wsubobject-linkage).
function(av_unity target)
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON
                                             UNITY_BUILD_BATCH_SIZE ${AV_UNITY_BATCH})
  target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
endfunction()

function(av_folder)
  cmake_parse_arguments(A "PROTOS" "NAME;DIR" "DEPS;LIBS;EXCLUDE" ${ARGN})
  set(dir ${CMAKE_SOURCE_DIR}/${A_DIR})
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  file(GLOB hdrs CONFIGURE_DEPENDS ${dir}/*.h)
  foreach(x ${A_EXCLUDE})
    list(REMOVE_ITEM srcs ${dir}/${x})
  endforeach()
  if(srcs)
    add_library(${A_NAME} STATIC ${srcs})
    target_link_libraries(${A_NAME} PUBLIC ${A_DEPS} ${A_LIBS})
    # A folder's files are compiled in batches (AV_UNITY_BATCH, 0 for one file at a time):
    # Asio, Beast and protobuf headers are parsed once per batch instead of once per file.
    if(AV_UNITY_BATCH GREATER 0)
      av_unity(${A_NAME})
    endif()
  else()
    add_library(${A_NAME} INTERFACE)
    target_link_libraries(${A_NAME} INTERFACE ${A_DEPS} ${A_LIBS})
  endif()
  set_property(GLOBAL APPEND PROPERTY AV_FOLDERS ${A_NAME})
  set_property(GLOBAL PROPERTY AV_FOLDER_DIR_${A_NAME} ${A_DIR})
  set_property(GLOBAL PROPERTY AV_FOLDER_DEPS_${A_NAME} "${A_DEPS}")
  set_property(GLOBAL PROPERTY AV_FOLDER_FILES_${A_NAME} "${srcs};${hdrs}")
  set_property(GLOBAL PROPERTY AV_FOLDER_PROTOS_${A_NAME} ${A_PROTOS})
endfunction()

# Depth-first walk of the DEPS graph; `path` is the chain that led to `node`.
function(_av_walk node path)
  if("${node}" IN_LIST path)
    list(APPEND path ${node})
    list(JOIN path " -> " chain)
    message(FATAL_ERROR "folder cycle: ${chain}")
  endif()
  get_property(done GLOBAL PROPERTY _AV_DONE_${node})
  if(done)
    return()
  endif()
  list(APPEND path ${node})
  get_property(deps GLOBAL PROPERTY AV_FOLDER_DEPS_${node})
  foreach(d ${deps})
    get_property(is_folder GLOBAL PROPERTY AV_FOLDER_DIR_${d} SET)
    if(is_folder)
      _av_walk(${d} "${path}")
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY _AV_DONE_${node} TRUE)
endfunction()

function(av_check_folders)
  get_property(folders GLOBAL PROPERTY AV_FOLDERS)
  # Headers that include protobuf themselves: a folder that is not PROTOS may not include
  # them either, or the messages would reach it one include away.
  set(proto_headers "")
  foreach(f ${folders})
    get_property(dir GLOBAL PROPERTY AV_FOLDER_DIR_${f})
    set(_av_target_of_${dir} ${f})
    get_property(files GLOBAL PROPERTY AV_FOLDER_FILES_${f})
    foreach(file ${files})
      if(file MATCHES "\\.h$")
        file(STRINGS ${file} pb REGEX "^#include \"autovibe/v1/")
        if(pb)
          file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${file})
          list(APPEND proto_headers ${rel})
        endif()
      endif()
    endforeach()
  endforeach()
  foreach(f ${folders})
    _av_walk(${f} "")
    get_property(dir GLOBAL PROPERTY AV_FOLDER_DIR_${f})
    get_property(deps GLOBAL PROPERTY AV_FOLDER_DEPS_${f})
    get_property(files GLOBAL PROPERTY AV_FOLDER_FILES_${f})
    get_property(protos GLOBAL PROPERTY AV_FOLDER_PROTOS_${f})
    foreach(file ${files})
      file(STRINGS ${file} includes REGEX "^#include \"[^\"]+\"")
      foreach(line ${includes})
        string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" header "${line}")
        file(RELATIVE_PATH where ${CMAKE_SOURCE_DIR} ${file})
        if(header MATCHES "^autovibe/v1/")
          if(NOT protos)
            message(FATAL_ERROR "${where} includes ${header}: protobuf messages stay at the bus "
                                "edge; ${dir} is not marked PROTOS")
          endif()
          continue()
        endif()
        if(NOT protos AND header IN_LIST proto_headers)
          message(FATAL_ERROR "${where} includes ${header}, which includes protobuf messages; "
                              "${dir} is not marked PROTOS (declare them there instead)")
        endif()
        get_filename_component(header_dir ${header} DIRECTORY)
        if(header_dir STREQUAL dir OR NOT DEFINED _av_target_of_${header_dir})
          continue()
        endif()
        set(used ${_av_target_of_${header_dir}})
        if(NOT used IN_LIST deps)
          message(FATAL_ERROR "${where} includes ${header}, but ${f} does not name ${used} "
                              "among the folders it uses (DEPS)")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()
