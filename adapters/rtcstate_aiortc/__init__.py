"""aiortc media backend for rtcstate: carries media effects out on RTCPeerConnection."""
