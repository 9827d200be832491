// Completion tokens for coroutines that look at errors instead of catching them.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace autovibe {

// `auto [ec, n] = co_await op(..., kTuple);`: the error comes back as a value, never thrown.
inline constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace autovibe
