"""A hand-made HTTP/2 server that answers gRPC calls with what a real gRPC server would never
send, for the specs that check that the client survives it (issue 11, items 5-8). Built on
Debian's python3-h2, so that the frames are exactly the ones chosen here.

    /usr/bin/python3 spec/support/hostile_server.py   ->  prints "listening on 127.0.0.1:<port>"

The request header x-hostile picks the answer:
  no-status      a valid response message, then trailers without grpc-status
  no-message-no-status      headers, then trailers without grpc-status
  trailers-only-no-status   one HEADERS frame ending the stream, without grpc-status
  gzip-bomb      a message flagged compressed, grpc-encoding gzip, inflating to 256 MiB
  short-message  a length prefix of 1000 bytes followed by 10, then grpc-status 0
  no-message     headers and trailers with grpc-status 0, no message at all
  details:HEX    grpc-status 8 with grpc-status-details-bin holding the bytes HEX
  hint:SECONDS   grpc-status 8 (RESOURCE_EXHAUSTED) with a google.rpc.RetryInfo of SECONDS
                 (an integer: absurd ones too, 100000 or -5), as a server that paces would send
  retry-after:V  grpc-status 8 with a retry-after trailer of V, as it comes ("100000", "-5", "soon")
  ok             a valid, empty response message, grpc-status 0
  v-500, v-data-end, v-trailers-grpc-message, v-rst, v-empty-trailers, v-headers-twice,
  v-pushback-no-status, v-bad-status, v-status-99, v-trailers-only-pushback
                 broken endings: HTTP 500, data ending the stream, trailers with only
                 grpc-message, RST_STREAM after the headers, an empty DATA frame ending the
                 stream, extra HEADERS frames, a retry pushback without a status, a status that
                 is not a number or not a gRPC code
"""
import base64
import socket
import sys
import threading
import zlib

import h2.config
import h2.connection
import h2.events


def gzip_bomb():
    """About 256 KiB of gzip that inflates to 256 MiB of zeros (twice the client's default
    max_receive_size)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = [comp.compress(chunk) for _ in range(256)]
    parts.append(comp.flush())
    return b"".join(parts)


BOMB = gzip_bomb()  # made before the server listens: a call must not wait for it


def varint(n):
    """A protobuf varint (a negative int64 as its ten-byte two's complement)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def retry_info_status(seconds):
    """google.rpc.Status{ code = 8, message, details = { Any(RetryInfo{ retry_delay = { seconds } }) } }."""
    duration = varint(1 << 3) + varint(seconds)
    retry_info = field(1, duration)
    any_ = field(1, b"type.googleapis.com/google.rpc.RetryInfo") + field(2, retry_info)
    return varint(1 << 3) + varint(8) + field(2, b"slow down") + field(3, any_)


def frame(payload, compressed=False, length=None):
    n = len(payload) if length is None else length
    return bytes([1 if compressed else 0]) + n.to_bytes(4, "big") + payload


def answer(conn, stream_id, case):
    headers = [(":status", "200"), ("content-type", "application/grpc")]
    if case == "trailers-only-no-status":
        conn.send_headers(stream_id, headers, end_stream=True)
        return None
    if case.startswith("v-"):
        if case == "v-500":
            conn.send_headers(stream_id, [(":status", "500")], end_stream=True)
        elif case == "v-data-end":
            conn.send_headers(stream_id, headers)
            conn.send_data(stream_id, frame(b""), end_stream=True)
        elif case == "v-trailers-grpc-message":
            conn.send_headers(stream_id, headers)
            conn.send_data(stream_id, frame(b""))
            conn.send_headers(stream_id, [("grpc-message", "hello")], end_stream=True)
        elif case == "v-rst":
            conn.send_headers(stream_id, headers)
            conn.reset_stream(stream_id)
        elif case == "v-empty-trailers":
            conn.send_headers(stream_id, headers)
            conn.send_data(stream_id, frame(b""))
            conn.send_data(stream_id, b"", end_stream=True)
        elif case == "v-pushback-no-status":
            conn.send_headers(stream_id, headers)
            conn.send_data(stream_id, frame(b""))
            conn.send_headers(stream_id, [("grpc-retry-pushback-ms", "10")], end_stream=True)
        elif case == "v-bad-status":
            conn.send_headers(stream_id, headers)
            conn.send_data(stream_id, frame(b""))
            conn.send_headers(stream_id, [("grpc-status", "abc")], end_stream=True)
        elif case == "v-status-99":
            conn.send_headers(stream_id, headers)
            conn.send_headers(stream_id, [("grpc-status", "99")], end_stream=True)
        elif case == "v-trailers-only-pushback":
            conn.send_headers(stream_id, headers + [("grpc-retry-pushback-ms", "10")], end_stream=True)
        elif case == "v-headers-twice":
            conn.send_headers(stream_id, headers)
            conn.send_headers(stream_id, [("x-a", "b")])
            conn.send_data(stream_id, frame(b""))
            conn.send_headers(stream_id, [("x-c", "d")], end_stream=True)
        return None
    if case == "gzip-bomb":
        headers.append(("grpc-encoding", "gzip"))
    conn.send_headers(stream_id, headers)
    trailers = [("grpc-status", "0")]
    if case == "no-status":
        conn.send_data(stream_id, frame(b""))
        trailers = [("x-something", "else")]
    elif case == "no-message-no-status":
        trailers = [("x-something", "else")]
    elif case == "gzip-bomb":
        data = frame(BOMB, compressed=True)
        # flow control: send what the window allows, the rest as it opens (see serve())
        return headers, data, trailers
    elif case == "short-message":
        conn.send_data(stream_id, frame(b"\x0a\x08truncate", length=1000))
    elif case.startswith("hint:"):
        details = retry_info_status(int(case[len("hint:"):]))
        trailers = [("grpc-status", "8"), ("grpc-message", "slow down"),
                    ("grpc-status-details-bin", base64.b64encode(details).decode().rstrip("="))]
    elif case.startswith("retry-after:"):
        trailers = [("grpc-status", "8"), ("grpc-message", "slow down"), ("retry-after", case[len("retry-after:"):])]
    elif case.startswith("details:"):
        details = bytes.fromhex(case[len("details:"):])
        trailers = [("grpc-status", "8"), ("grpc-message", "refused"),
                    ("grpc-status-details-bin", base64.b64encode(details).decode().rstrip("="))]
    elif case == "no-message":
        pass
    else:
        conn.send_data(stream_id, frame(b""))
    conn.send_headers(stream_id, trailers, end_stream=True)
    return None


def serve(sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    cases = {}
    pending = {}  # stream -> [remaining data, trailers]
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    cases[ev.stream_id] = dict(ev.headers).get(b"x-hostile", b"ok").decode()
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    later = answer(conn, ev.stream_id, cases.get(ev.stream_id, "ok"))
                    if later:
                        pending[ev.stream_id] = [later[1], later[2]]
                elif isinstance(ev, h2.events.StreamReset):
                    pending.pop(ev.stream_id, None)
            for sid in list(pending):
                rest, trailers = pending[sid]
                try:
                    window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                except Exception:
                    pending.pop(sid)
                    continue
                while rest and window > 0:
                    conn.send_data(sid, rest[:window])
                    rest = rest[window:]
                    window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                pending[sid][0] = rest
                if not rest:
                    conn.send_headers(sid, trailers, end_stream=True)
                    pending.pop(sid)
            sock.sendall(conn.data_to_send())
    except (ConnectionError, OSError):
        return
    finally:
        sock.close()


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print("listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
    while True:
        sock, _ = srv.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
