# mcvision for GPU nodes (cluster.yaml `worker_image`): CUDA runtime + the pinned stack.
#   docker build -t mcvision:gpu .
#   docker run --gpus all -v $PWD/site:/site mcvision:gpu mcvision run --config /site/site.yaml
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    YOLO_OFFLINE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       python3.11 python3.11-venv python3-pip git openssh-client rsync \
       libgl1 libglib2.0-0 ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sf /usr/bin/python3.11 /usr/local/bin/python3 \
    && ln -sf /usr/bin/python3.11 /usr/local/bin/python

WORKDIR /opt/mcvision
# Dependencies first (cached layer): the pins of constraints.txt, the deps of pyproject.toml.
COPY pyproject.toml constraints.txt README.md ./
COPY src/mcvision/__init__.py src/mcvision/__init__.py
RUN python3 -m pip install --upgrade pip \
    && python3 -m pip install -c constraints.txt -e .
COPY src ./src
COPY configs ./configs
RUN python3 -m pip install --no-deps -e . && mcvision --help >/dev/null

# Weights are mounted or fetched by `mcvision weights`, never baked into the image.
VOLUME ["/opt/mcvision/data", "/opt/mcvision/models"]
EXPOSE 8000 6379 8265
CMD ["mcvision", "--help"]
