# Cairn's image: static cairnd and cairn-k8s-init (the operator's init step), CA certificates,
# nothing else. Built by scripts/image.sh (`make image`) from binaries compiled on the host with
# CGO_ENABLED=0, so no base image is pulled.
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 data/ /var/lib/cairn/
COPY cairnd cairn-k8s-init /
USER 65532:65532
WORKDIR /var/lib/cairn
# client, peer, quorum (UDP), metrics
EXPOSE 2379 2380 2381/udp 2378
ENTRYPOINT ["/cairnd"]
