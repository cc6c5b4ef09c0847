# kamwatch container image (docs/install.md#docker).
#   docker build -t kamwatch .
#   docker run -d --name kamwatch -p 9470:9470 -v kamwatch-data:/var/lib/kamwatch kamwatch \
#       run --config /etc/kamwatch/kamwatch.yaml --brokers kafka1:9092
# The image runs `kamwatch run --config /etc/kamwatch/kamwatch.yaml` as user kamwatch; mount
# your own configuration over /etc/kamwatch/kamwatch.yaml (and rules over
# /usr/share/kamwatch/rules, or set rules.dir) to change it.

# Build stage: the release preset, only the kamwatch target, installed with prefix /usr into
# /staging. The image's configuration listens on 0.0.0.0:9470 so that -p and Prometheus reach it.
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      librdkafka-dev librocksdb-dev prometheus-cpp-dev libboost-dev libjemalloc-dev \
      libprotobuf-dev protobuf-compiler libyaml-cpp-dev libsimdjson-dev \
      libsystemd-dev libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DKAMWATCH_BUILD_TESTS=OFF -DKAMWATCH_BUILD_BENCH=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr -DKAMWATCH_HTTP_LISTEN=0.0.0.0:9470 \
 && cmake --build --preset release --target kamwatch \
 && DESTDIR=/staging cmake --install build/release --strip

# Runtime stage: the shared libraries kamwatch links (the Depends of the .deb), a non-root user,
# the program, its configuration and the rule packs.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 librocksdb7.8 libprotobuf32 libyaml-cpp0.7 libsimdjson14 \
      libprometheus-cpp-core1.0 libjemalloc2 libsystemd0 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /var/lib/kamwatch --no-create-home \
      --shell /usr/sbin/nologin kamwatch \
 && install -d -m 0750 -o kamwatch -g kamwatch /var/lib/kamwatch
COPY --from=build /staging/usr/bin/kamwatch /usr/bin/kamwatch
COPY --from=build /staging/usr/share/kamwatch/rules/ /usr/share/kamwatch/rules/
COPY --from=build --chown=root:kamwatch /staging/etc/kamwatch/ /etc/kamwatch/
USER kamwatch
WORKDIR /var/lib/kamwatch
EXPOSE 9470
VOLUME ["/var/lib/kamwatch"]
ENTRYPOINT ["/usr/bin/kamwatch"]
CMD ["run", "--config", "/etc/kamwatch/kamwatch.yaml"]
