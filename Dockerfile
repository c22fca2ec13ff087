# One image for both processes: `worker` (default) and `serve` (the HTTP API).
#   docker build -t storyloom .
#   docker run --rm storyloom worker | docker run --rm -p 7880:7880 -e STORYLOOM_API_HOST=0.0.0.0 -e STORYLOOM_API_TOKENS=… storyloom serve
# Untested here (no Docker engine on the machines this was written on).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; `prepare` (the build) is not run here: dist/ comes from the build stage.
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 7880 9464
ENTRYPOINT ["node", "bin/storyloom.js"]
CMD ["worker"]
