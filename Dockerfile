# Worker image: `docker build -t temporal-k8s-jobs:0.1.0 .` (see deploy/ and the README's deploy section).
# Not built in this repository's CI: its machine has no container engine.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY templates ./templates
RUN npm ci --ignore-scripts && npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/templates ./templates
# The node image's unprivileged user (uid 1000; deploy/ runs it with runAsUser 1000 and a read-only root).
USER node
EXPOSE 9464 8080
ENTRYPOINT ["node", "/app/bin/temporal-k8s-jobs.js"]
CMD ["worker", "--in-cluster"]
