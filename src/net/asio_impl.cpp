// Asio, Asio-SSL and Beast compiled once for the whole program (separate compilation). Nothing else goes here.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
