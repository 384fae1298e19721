package sfu

import (
	"math"
	"time"

	"github.com/pion/webrtc/v4"
)

const (
	// upgradeHold is how long the estimate must allow a higher layer
	// before the subscriber gets it: going up costs a keyframe, going up
	// and down again costs two.
	upgradeHold = 3 * time.Second
	// upgradeMargin is the headroom required to go up a layer.
	upgradeMargin = 1.25
	// keyframeRetry re-sends a PLI while a switch is still pending.
	keyframeRetry = time.Second
)

// adapt re-chooses the layer of every simulcast track sent to p from its
// bandwidth estimate and explicit requests. Audio is served first; the rest
// is shared equally between video tracks (the client asks for low layers
// on small tiles, which frees bandwidth for the speaker's tile).
func (p *participant) adapt(now time.Time, explicit *downTrack) {
	budget := math.Inf(1)
	if e := p.estimator(); e != nil {
		budget = float64(e.GetTargetBitrate())
	}
	downs := p.downList()
	var videos []*downTrack
	for _, d := range downs {
		if d.up.kind == webrtc.RTPCodecTypeAudio {
			if l := d.up.layer(0); l != nil {
				budget -= float64(l.sampleRate(now))
			}
			continue
		}
		videos = append(videos, d)
	}
	if len(videos) == 0 {
		return
	}
	share := budget / float64(len(videos))
	for _, d := range videos {
		d.choose(now, share, d == explicit)
	}
}

// choose picks the layer for one video subscription.
func (d *downTrack) choose(now time.Time, share float64, explicit bool) {
	var rates [maxLayers]float64
	var avail [maxLayers]bool
	lowest := -1
	for r := 0; r < maxLayers; r++ {
		if l := d.up.layer(r); l != nil && l.active(now) {
			avail[r] = true
			rates[r] = float64(l.sampleRate(now))
			if lowest < 0 {
				lowest = r
			}
		}
	}
	if lowest < 0 {
		return
	}
	d.mu.Lock()
	requested, current, target, switchReq := d.requested, d.current, d.target, d.switchReq
	d.mu.Unlock()

	best := lowest
	for r := min(requested, maxLayers-1); r > lowest; r-- {
		if !avail[r] {
			continue
		}
		need := rates[r]
		if r > current {
			need *= upgradeMargin
		}
		if need <= share {
			best = r
			break
		}
	}
	// Going up on the estimate alone waits for upgradeHold; an explicit
	// request (the client enlarged a tile) is honoured at once.
	if best > current && current >= 0 && !explicit {
		d.mu.Lock()
		if d.upSince.IsZero() {
			d.upSince = now
		}
		wait := now.Sub(d.upSince) < upgradeHold
		d.mu.Unlock()
		if wait {
			best = max(current, lowest)
			if !avail[best] {
				best = lowest
			}
		}
	} else {
		d.mu.Lock()
		d.upSince = time.Time{}
		d.mu.Unlock()
	}
	if best != target {
		d.setTarget(best, now)
		return
	}
	if target != current && now.Sub(switchReq) > keyframeRetry {
		d.mu.Lock()
		d.switchReq = now
		d.mu.Unlock()
		d.up.requestKeyframe(target)
	}
}
