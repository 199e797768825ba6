// Command elevator-agent is the Elevator agent, which runs on every
// instance Elevator launches: user data's bootstrap script fetches it from
// the orbit's state bucket and runs `elevator-agent boot`. See
// internal/agent, or run `elevator-agent --help`.
package main

import "github.com/elevatorhq/elevator/internal/agent"

func main() { agent.Main() }
