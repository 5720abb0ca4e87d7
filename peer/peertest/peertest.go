// Package peertest has helpers for running Go peers on one machine: in
// tests, benchmarks and local demos.
package peertest

import (
	"github.com/pion/ice/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"
)

// LoopbackAPI returns a webrtc.API that uses IPv4 loopback only: loopback
// candidates on (pion leaves them out by default), every interface but
// "lo" filtered out, no mDNS, UDP4 only. With no ICE servers, peers made
// with it send nothing off the machine. Share one API between many peers:
// it is safe for concurrent use, and it reads the machine's interfaces
// once, not once per RTCPeerConnection as pion does by default.
func LoopbackAPI() *webrtc.API {
	se := LoopbackSettings()
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// LoopbackSettings returns the SettingEngine of LoopbackAPI, for callers
// that change more (ICE timeouts, say) before making their API.
func LoopbackSettings() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	if n, err := stdnet.NewNet(); err == nil {
		se.SetNet(n)
	}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return se
}
