module decoder

go 1.26.8

require (
	fyne.io/systray v1.12.2
	github.com/coder/websocket v1.8.15
	github.com/godbus/dbus/v5 v5.1.0
	github.com/gorilla/websocket v1.5.3
)

require golang.org/x/sys v0.15.0 // indirect
