// Asio and Beast are built once here (BOOST_*_SEPARATE_COMPILATION) rather than in every file
// that includes them, which keeps builds of the two-core CI machine short.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
