# The image of the deployer service of examples/deployer.yml: the elevator
# binary, and the orbit manifests it serves under /etc/elevator/orbits/
# (the deployer reads orbits/<orbit>.yml from its working directory).
#
# Build it from a directory that holds orbits/<orbit>.yml:
#   docker build -f deployer.Dockerfile --build-arg ELEVATOR_VERSION=v0.9.0 -t REPOSITORY:v0.9.0 .
# The tag is the version `elevator deploy --version` releases.
FROM golang:1.26 AS build
ARG ELEVATOR_VERSION=latest
# A static binary: the final image has no C library.
RUN CGO_ENABLED=0 GOBIN=/out go install github.com/elevatorhq/elevator/cmd/elevator@${ELEVATOR_VERSION}

FROM scratch
# AWS's endpoints are HTTPS: the image carries the build stage's CA bundle.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/elevator /usr/local/bin/elevator
COPY orbits/ /etc/elevator/orbits/
WORKDIR /etc/elevator
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/elevator"]
