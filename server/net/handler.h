// The seam between the network layer (connections) and the licensing service.
//
// A connection decodes frames, enforces the session rules (Hello first, limits) and hands
// each request to a RequestHandler. Replies that come later (a queued checkout's outcome)
// and server pushes (revocations, draining) reach the connection through its PushSink.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "tessera/v1/tessera.pb.h"

namespace tessera::server {

// Where frames for one connection go. Implemented by the connection.
// Thread safety: Push and Close may be called from any thread.
class PushSink {
 public:
  virtual ~PushSink() = default;
  // Queues `frame` for the client. When `completes_request` is set, the frame is the final
  // answer to the in-flight request frame.request_id() (it stops counting as in flight).
  // Frames pushed after the connection closed are dropped.
  virtual void Push(tessera::v1::Frame frame, bool completes_request) = 0;
};

// Who is on the other end of a connection, fixed by its Hello.
struct Session {
  std::uint64_t connection_id = 0;
  tessera::v1::ClientIdentity client;  // client_id is never empty (assigned if absent)
  std::string peer;                    // "ip:port"
  std::weak_ptr<PushSink> sink;
};

// The immediate answer to a request.
struct HandlerReply {
  tessera::v1::Frame frame;
  // False when `frame` is only an interim answer (QueuedNotice): the request stays in flight
  // until the handler pushes its final reply with completes_request set.
  bool final = true;
};

// Thread safety: Handle and OnClose are called concurrently from many connections.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;

  // Answers one request (body is a client->server request other than Hello).
  virtual boost::asio::awaitable<HandlerReply> Handle(std::shared_ptr<const Session> session,
                                                      tessera::v1::Frame request) = 0;

  // The connection is gone: forget its sink, cancel its queued checkouts. Leases survive.
  virtual void OnClose(std::uint64_t connection_id) = 0;
};

}  // namespace tessera::server
