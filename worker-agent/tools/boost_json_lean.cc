// Boost.JSON compiled into the lean agent binary.
//
// autovibe-agent links autovibe_common_lean, which has no shared C++ libraries (see
// common/CMakeLists.txt) and so no Boost::json; the stream-json reader needs it. The lean build
// is the one that defines SPDLOG_HEADER_ONLY; every other target links the Boost::json library
// and gets nothing from this file. Linking libboost_json.a into autovibe-agent would do the same.
#ifdef SPDLOG_HEADER_ONLY
#include <boost/json/src.hpp>
#endif
