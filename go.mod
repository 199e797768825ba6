module github.com/elevatorhq/elevator

go 1.26.8
