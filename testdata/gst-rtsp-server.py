#!/usr/bin/python3
"""An RTSP camera made of GStreamer's RTSP server, for interoperability tests,
with one stream per mount, each a live 640x360 25 fps test pattern with a
keyframe every second, over TCP or UDP:

  rtsp://127.0.0.1:PORT/test    H.264
  rtsp://127.0.0.1:PORT/h265    H.265
  rtsp://127.0.0.1:PORT/alaw    H.264 with G.711 A-law audio (8 kHz)
  rtsp://127.0.0.1:PORT/mulaw   H.264 with G.711 µ-law audio (8 kHz)
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

VIDEO = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 ! "
H264 = VIDEO + "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph264pay name=pay0 pt=96 config-interval=-1"
H265 = VIDEO + "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph265pay name=pay0 pt=96 config-interval=-1"
TONE = "audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=8000,channels=1 ! "
MOUNTS = {
    "/test": H264,
    "/h265": H265,
    "/alaw": H264 + " " + TONE + "alawenc ! rtppcmapay name=pay1 pt=8",
    "/mulaw": H264 + " " + TONE + "mulawenc ! rtppcmupay name=pay1 pt=0",
}

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
for path, pipeline in MOUNTS.items():
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( " + pipeline + " )")
    factory.set_shared(True)
    server.get_mount_points().add_factory(path, factory)
server.attach(None)
GLib.MainLoop().run()
