"""A real RTSP server for tests: GStreamer's rtsp-server serving a folder of JPEG frames.

Runs under the *system* Python (``python3-gi`` + ``gir1.2-gst-rtsp-server-1.0``), not the
project's virtualenv. Usage::

    python3 rtsp_server.py PORT FOLDER FPS

serves ``rtsp://127.0.0.1:PORT/cam`` as Motion-JPEG over RTP, looping the folder's
``%05d.jpg`` frames paced in real time at FPS, and prints ``READY`` once it listens. SIGTERM stops it.
"""

from __future__ import annotations

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, folder, fps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( multifilesrc location="{folder}/%05d.jpg" loop=true '
        f'caps="image/jpeg,framerate={fps}/1" ! jpegdec ! videorate '
        f"! video/x-raw,framerate={fps}/1 ! clocksync ! jpegenc ! rtpjpegpay name=pay0 pt=26 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(2)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("READY", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
