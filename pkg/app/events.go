package app

// DefaultEventBusName is the bus table.entry.added goes to when EVENT_BUS_NAME is empty: the
// account's default bus.
const DefaultEventBusName = "default"
