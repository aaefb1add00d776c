// The one translation unit that compiles Boost.Asio, Asio SSL and Beast (separate compilation), so
// every other file only includes headers and rebuilds stay fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
