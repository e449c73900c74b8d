// Structured logging for tesserad: one line per event on stderr, key=value pairs.
//
//   ts=2026-12-03T16:44:40.123Z level=info event=listening addr=127.0.0.1:7400
//
// Values containing spaces, quotes, '=' or control characters are double-quoted with C-style
// escapes, so every line splits unambiguously. Thread safety: all functions are thread-safe;
// a line is written with one write(2) call, so lines from different threads never interleave.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tessera::server {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error".
bool ParseLogLevel(std::string_view text, LogLevel* level);

// Events below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

// Quotes a value when needed (exposed for tests).
std::string LogQuote(std::string_view value);

}  // namespace tessera::server
