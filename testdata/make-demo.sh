#!/usr/bin/env bash
# Makes demo.ts, the clip behind demo:// (embedded in the binary) and the
# fixture the RTSP tests publish: 8 s of ffmpeg's test pattern, whose
# counter shows the seconds, at 1280x720 25 fps in H.264 Main with a
# keyframe every second and no B-frames, and a quiet 880 Hz beep each second
# in mono AAC-LC at 48 kHz. 8 s holds exactly 200 video frames and 375 AAC
# frames, so the loop keeps audio and video in step.
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg -v error -y \
  -f lavfi -i "testsrc=size=1280x720:rate=25:duration=8" \
  -f lavfi -i "sine=frequency=880:sample_rate=48000:duration=8:beep_factor=4" \
  -af "volume=0.3" \
  -c:v libx264 -preset slow -profile:v main -pix_fmt yuv420p \
  -bf 0 -g 25 -keyint_min 25 -sc_threshold 0 -crf 30 \
  -c:a aac -b:a 48k -ac 1 \
  -f mpegts demo.ts
